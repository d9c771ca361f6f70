"""redcli: restore photos with RED-Net (Mao, Shen & Yang, 2016).

The package is a small library plus a Typer command-line tool. Importing the package
itself is cheap: torch is imported only by the modules that need it.
"""

__version__ = "0.1.0"
