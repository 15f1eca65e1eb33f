"""Exchange with the rest of the public-warning world: CAP 1.2 out and in, an Atom
feed of current alerts, and the Lアラート (公共情報コモンズ) entry a municipality needs.

``levels`` holds the one table mapping a 警戒レベル to CAP and Lアラート terms.
``CAP-v1.2.xsd`` is the OASIS schema (Copyright OASIS Open 2010; see SOURCES in
``tests/data/SOURCES.md``), used to validate every document written or read.
"""
