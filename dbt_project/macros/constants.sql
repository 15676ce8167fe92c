{#-
  Domain constants, each defined here once and called by name from the models.
  The state graph is the seed `valid_state_transitions` (the ground truth in
  tests/truth reads the same file); the watermark is the model
  `int_events__watermark`.
-#}

{# The webview layer's event types (docs/contract.md §2.3; ingestion/contract.py WEBVIEW_TYPES). #}
{% macro webview_event_types() -%}
    {{ return(['webview.opened', 'funnel.step_viewed', 'funnel.completed', 'escalation.requested', 'webview.exited']) }}
{%- endmacro %}

{# The states that end a session (docs/contract.md §3.1). #}
{% macro terminal_states() -%}
    {{ return(['resolved', 'expired']) }}
{%- endmacro %}

{# The team of work no assignment names (docs/contract.md §6.1.5, §6.1.7). #}
{% macro unassigned_team() -%}
    'unassigned'
{%- endmacro %}

{#-
  An integer position after every real step or event (the largest 32-bit
  integer): a funnel completion ranks above every `step_index`, a TTL expiry
  after every `event_seq` of its session.
-#}
{% macro beyond_every_step() -%}
    2147483647
{%- endmacro %}

{# `values` as a list of SQL string literals, for `in (...)`. #}
{% macro quoted(values) -%}
    {%- for value in values -%}
        '{{ value }}'{{ ', ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}
