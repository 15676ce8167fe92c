with source as (
    select * from {{ source('raw', 'quarantine') }}
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
