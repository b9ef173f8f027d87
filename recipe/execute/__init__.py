"""Running things: a script's parameters (`params`), what a sweep can run (`targets`),
`recipe run` (`runner`), `recipe.sweep` (`sweeps`), one run in a fresh interpreter
(`launch`, `child`, `zygote`) and what they hand back (`results`)."""
