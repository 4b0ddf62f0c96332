"""Commands of this domain; filled in by its issue."""

COMMANDS = ()
