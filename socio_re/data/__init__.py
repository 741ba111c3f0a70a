"""Dataset loading, validation and splitting for the tasks of socio_re."""
