// The viewer's only script, a file of its own: the Content-Security-Policy allows no inline
// script or event handler. Pages work without it; it only adds conveniences.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Compare: "only what differs" hides the rows that are the same in every run.
  const onlyDifferences = document.getElementById("only-differences");
  if (onlyDifferences) {
    onlyDifferences.addEventListener("change", () => {
      document.body.classList.toggle("all-rows", !onlyDifferences.checked);
    });
  }
});
