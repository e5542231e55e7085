"""Who the companion is: Character Cards V2/V3 (JSON and PNG), their macros, lorebook and
example dialogue turned into prompt pieces, and the built-in persona 林栀 (`personas/linzhi/`).

Entry points: `personas.card.load_card/save_card`, `personas.library.find_persona/list_personas`,
`personas.prompt.render_persona`.
"""
