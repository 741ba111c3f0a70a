"""relext: classify every entity pair of a biomedical abstract into a relation type or NOT."""
