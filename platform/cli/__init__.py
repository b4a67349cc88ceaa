"""The platform's CLI, one module per command group (`reelgate.commands` entry points): `stack`, `tenant`,
`audit`, `db`, `serve`, `worker`. Errors are one line on stderr with a non-zero exit, never a traceback."""
