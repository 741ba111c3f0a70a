"""socrates: predict how a described person answers a social-science experiment question."""
