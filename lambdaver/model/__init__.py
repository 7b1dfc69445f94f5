"""Pure values and rules, no I/O: configuration, records, names, ARNs, qualifiers."""
