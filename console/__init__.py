"""The web console (`onestop console`): the people who use onestop — caseworkers, hospital windows,
finance, auditors, operators and the administrator — each signed in to their own account, seeing
only what their role and scope allow, on pages rendered by the server (aiohttp, Jinja2).

It reads the ledger through the store's public methods and the readers the commands use (cli/,
reports/), writes only its own tables (migration 0012, role onestop_console), and publishes its one
action that moves money, the year-end close, signed on the broker as `onestop year-end close` does.
"""
