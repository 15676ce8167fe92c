{#-
  Rows loaded after this point are new to an incremental model: its latest
  `loaded_at` minus the `incremental_lookback_hours` var, so a loader whose
  clock runs behind is still picked up (an empty model takes everything).
  Models that take these rows recompute whole units (a conversation, an
  event), so the lookback costs work, never correctness.
-#}
{% macro incremental_threshold() -%}
    coalesce(
        (select {{ dbt.dateadd('hour', -1 * var('incremental_lookback_hours'), 'max(loaded_at)') }} from {{ this }}),
        cast('1900-01-01' as {{ dbt.type_timestamp() }})
    )
{%- endmacro %}
