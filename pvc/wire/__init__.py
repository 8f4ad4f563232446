"""The wire protocol: one file per concept (codec, messages, publication, auth, sealed, replay)."""
