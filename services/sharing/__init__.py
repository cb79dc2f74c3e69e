"""Sharing the numbers outside the product. Embeds: one chart shared as a signed, revocable iframe link. `tokens`
signs and reads links (rotating keys), `filters` locks what an embed shows, `store` creates, lists, revokes, deletes
and resolves embeds, and `chart_data` reads an embed's chart through the same dashboard and sponsorship services the
pages use."""
