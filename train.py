"""socio_re's single entry point: ``python train.py [group=option] [key=value] [-m]``."""

from socio_re.cli.train import main

if __name__ == "__main__":
    main()
