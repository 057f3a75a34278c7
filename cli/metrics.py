"""`onestop metrics`: each running worker process's /metrics address, its health, and what it did."""

from __future__ import annotations

import click

from runtime.scrape import by_label, healthz, scrape, stages
from workers import metrics as worker_metrics


@click.command("metrics")
@click.option("--urls", is_flag=True, help="only the /metrics addresses, one per line (for a Prometheus file_sd list)")
def metrics_command(urls: bool) -> None:
    """Each worker process of the running system (`onestop up`): where its /metrics and /healthz
    are, whether it is healthy, and per worker the events in, batches, handling time per event,
    rejections, parked messages and consumer lag since it started. Exit 1 if one is not healthy."""
    found = worker_metrics.addresses()
    if not found:
        raise click.ClickException(
            "no worker process has written its metrics address "
            f"({worker_metrics.addresses_dir()}): is `onestop up` running here?"
        )
    if urls:
        for address in found.values():
            click.echo(address["url"])
        return
    unhealthy = 0
    for process, address in found.items():
        healthy, report = healthz(address["url"])
        unhealthy += not healthy
        click.echo(
            f"{process}  {address['url']}/metrics  pid {address['pid']}  {'healthy' if healthy else 'NOT HEALTHY'}"
        )
        for worker, state in report.items():
            if not state.get("healthy"):
                click.echo(f"    {worker}: {state.get('why', state)}")
        if healthy or any(r.get("last_poll_seconds_ago") is not None for r in report.values()):
            _figures(address["url"])
    if unhealthy:
        raise SystemExit(1)


def _figures(url: str) -> None:
    try:
        samples = scrape(url)
    except OSError as error:
        click.echo(f"    /metrics unreachable: {error}")
        return
    lag = by_label(samples, "onestop_consumer_lag", "worker")
    for worker, stage in stages(samples).items():
        handling = f"{stage.handling_ms_per_event} ms/event" if stage.handling_ms_per_event is not None else "-"
        click.echo(
            f"    {worker:<16} {stage.events:>8} in  {stage.batches:>6} batches (mean {stage.mean_batch})  "
            f"{handling}  wait p99 {stage.wait_p99_ms} ms  rejected {stage.rejected}  parked {stage.parked}  "
            f"lag {int(lag.get(worker, 0))}"
        )


COMMANDS = [metrics_command]
