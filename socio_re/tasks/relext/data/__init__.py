"""Relation extraction data (LitCoin / BioRED): documents, readers, instances, folds, markers."""
