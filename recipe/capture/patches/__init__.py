"""One declaration module per supported library; see recipe._hooks.PATCH_MODULES."""
