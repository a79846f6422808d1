"""Find the duplicate requests nobody declared: one matcher for `requests dedupe` and `suggest`.

rules     the rules file (`catalog/dedupe_rules.yaml`): model, checks, compiled patterns
text      label normalisation
facets    labels and definitions read into facets, and facets compared
items     requested items and catalogue metrics as the engine sees them
register  an outside register (CSV or XLSX) read into items
scoring   blocking, vetoes and scores for pairs
cluster   conflict-aware clustering
naming    the catalogue metric a cluster is, or a proposed new one
engine    the whole analysis and its JSON shape
run       the catalogue plus a register through the engine
accept    an accepted cluster written into the catalogue
render    the review queue for people and the page for approvers
suggest   proposed mappings, as a view of the same analysis
cli       the commands
"""
