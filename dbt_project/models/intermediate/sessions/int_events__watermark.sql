{#-
  The data watermark (docs/contract.md §4.5): the latest `occurred_at`
  loaded. Sessions idle past the TTL expire as of it, and the hourly marts
  end at its hour. A view, so it is never older than the events it reads.
-#}

with events as (
    select * from {{ ref('stg_raw__events') }}
),

final as (
    select max(occurred_at) as watermark_at
    from events
)

select * from final
