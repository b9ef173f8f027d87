"""One declaration module per supported library; see recipe.capture.hooks.PATCH_MODULES."""
