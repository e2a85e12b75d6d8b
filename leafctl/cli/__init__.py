"""The command-line skin. Nothing heavy may be imported at module level anywhere in this package."""
