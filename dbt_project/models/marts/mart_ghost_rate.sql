{#- Ghost rate (docs/contract.md §5.4, §6.1.10): the share of webview events that no handshake token tied to a conversation, per UTC day. -#}

with events as (
    select * from {{ ref('stg_raw__events') }}
    where is_webview
),

final as (
    select
        cast(occurred_at as date) as day,
        cast(count(*) as {{ dbt.type_bigint() }}) as webview_events,
        cast(sum(case when conversation_id is null then 1 else 0 end) as {{ dbt.type_bigint() }}) as unlinked_events,
        {{ ratio('sum(case when conversation_id is null then 1 else 0 end)', 'count(*)') }} as ghost_rate
    from events
    group by cast(occurred_at as date)
)

select * from final
