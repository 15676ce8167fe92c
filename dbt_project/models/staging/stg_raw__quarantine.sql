{#- dlt creates raw.quarantine with the first rejected record; until then this view is empty. -#}
{%- set quarantine = source('raw', 'quarantine') -%}
{%- set exists = adapter.get_relation(quarantine.database, quarantine.schema, quarantine.identifier) if execute else true -%}

{% if exists %}
with source as (
    select * from {{ quarantine }}
),

final as (
    select
        quarantine_id,
        source as origin,
        source_line,
        spool_segment,
        spool_line,
        reason,
        raw,
        {{ to_utc('quarantined_at') }} as quarantined_at
    from source
)

select * from final
{% else %}
select
    cast(null as {{ dbt.type_string() }}) as quarantine_id,
    cast(null as {{ dbt.type_string() }}) as origin,
    cast(null as {{ dbt.type_bigint() }}) as source_line,
    cast(null as {{ dbt.type_string() }}) as spool_segment,
    cast(null as {{ dbt.type_bigint() }}) as spool_line,
    cast(null as {{ dbt.type_string() }}) as reason,
    cast(null as {{ dbt.type_string() }}) as raw,
    cast(null as {{ dbt.type_timestamp() }}) as quarantined_at
where 1 = 0
{% endif %}
