"""The web dashboard (`journey dashboard`): KPIs, the marts behind them, drill-down
to sessions and one session's journey as a timeline, read-only over the serving
snapshot (docs/contract.md §7). Starlette renders every page on the server from
Jinja2 templates; charts are inline SVG, so a page needs no script at all."""
