"""socio_re: fine-tune language models on social-science and biomedical research tasks."""

__version__ = "0.1.0"
