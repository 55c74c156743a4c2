-- The action an e-mail's Message-ID names (a reply's In-Reply-To stops the sequence that
-- sent it): looked up by reference, as SQLite's actions_ref index does.
-- depends: 0002.actions-contact-id

CREATE INDEX IF NOT EXISTS actions_ref ON actions(ref);
