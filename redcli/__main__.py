"""Allow ``python -m redcli ...`` (and ``torchrun -m redcli train ...``)."""

from redcli.cli.app import main

if __name__ == "__main__":
    main()
