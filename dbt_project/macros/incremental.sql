{#-
  Rows of loads an incremental model has not processed yet. Every load stamps
  its rows with one `loaded_at`, so "new" is an anti-join on the loads the
  model already holds, exact whatever order loads commit in (no clock-skew
  window to tune). Late events need no time window either: the models
  recompute whole units (a conversation, an event) for every new row.
-#}
{% macro is_new_load(column='loaded_at') -%}
    {{ column }} not in (select distinct loaded_at from {{ this }})
{%- endmacro %}
