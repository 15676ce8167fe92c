{#-
  Resolution quality (docs/contract.md §6.2.3) per UTC day of the session's end
  and channel: of the sessions whose recontact window has closed (mature, the
  only ones whose outcome is final), how many came back, were resolved at the
  first contact, stayed contained by the bot, or reopened.
-#}

with sessions as (
    select * from {{ ref('fct_sessions') }}
    where ended_at is not null
),

counted as (
    select
        cast(ended_at as date) as day,
        channel,
        count(*) as sessions_ended,
        -- `recontacted` is set exactly for the mature sessions (null before).
        sum(case when recontacted is not null then 1 else 0 end) as mature_sessions,
        sum(case when recontacted is not null and final_state = 'resolved' then 1 else 0 end) as mature_resolved,
        sum(case when recontacted is not null and bot_contained then 1 else 0 end) as mature_bot_contained,
        sum(case when recontacted then 1 else 0 end) as recontacted,
        sum(case when first_contact_resolved then 1 else 0 end) as first_contact_resolved,
        sum(case when durably_contained then 1 else 0 end) as durably_contained,
        sum(case when reopened then 1 else 0 end) as reopened
    from sessions
    group by cast(ended_at as date), channel
),

final as (
    select
        day,
        channel,
        cast(sessions_ended as {{ dbt.type_bigint() }}) as sessions_ended,
        cast(mature_sessions as {{ dbt.type_bigint() }}) as mature_sessions,
        cast(mature_resolved as {{ dbt.type_bigint() }}) as mature_resolved,
        cast(mature_bot_contained as {{ dbt.type_bigint() }}) as mature_bot_contained,
        cast(recontacted as {{ dbt.type_bigint() }}) as recontacted,
        cast(first_contact_resolved as {{ dbt.type_bigint() }}) as first_contact_resolved,
        cast(durably_contained as {{ dbt.type_bigint() }}) as durably_contained,
        cast(reopened as {{ dbt.type_bigint() }}) as reopened,
        {{ ratio('recontacted', 'mature_sessions') }} as recontact_rate,
        {{ ratio('first_contact_resolved', 'mature_resolved') }} as fcr_rate,
        {{ ratio('durably_contained', 'mature_bot_contained') }} as durable_containment_rate,
        {{ ratio('reopened', 'mature_resolved') }} as reopen_rate
    from counted
)

select * from final
