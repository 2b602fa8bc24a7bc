//! Reports: JSON (the contract's fields), SARIF 2.1.0 and the Markdown comment. STUB.
