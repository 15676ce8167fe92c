{#-
  Start, end and final state of every session. TTL expiry (SPEC 3.4): a
  session with no terminal state ends at the activity just before its first
  TTL gap + TTL; with no gap, at its last activity + TTL once that is at or
  before the watermark (the latest occurred_at loaded). A late event inside
  the window removes the gap, so the expiry disappears on the next build.

  Incremental: a run rebuilds the conversations the sessionizer rebuilt,
  plus those with an open session, the only ones a moved watermark can end.
-#}

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='conversation_id',
    on_schema_change='fail',
) }}

with events as (
    select * from {{ ref('int_events__sessionized') }}
    {% if is_incremental() %}
    where conversation_id in (
        {{ rebuilt_conversations(ref('int_events__sessionized')) }}
        union
        select conversation_id from {{ this }} where final_state = 'open'
    )
    {% endif %}
),

all_events as (
    select * from {{ ref('stg_raw__events') }}
),

watermark as (
    select max(occurred_at) as watermark_at from all_events
),

sessions as (
    select
        session_id,
        conversation_id,
        session_ordinal,
        min(event_seq) as first_seq,
        min(occurred_at) as started_at,
        max(case when is_activity then occurred_at end) as last_activity_at,
        max(case when is_terminal_event then occurred_at end) as terminal_at,
        max(case when is_terminal_event then to_state end) as terminal_state
    from events
    group by session_id, conversation_id, session_ordinal
),

first_gap as (
    select
        sessions.session_id,
        min(gaps.prev_activity_at) as expiring_activity_at
    from sessions
    inner join events as gaps
        on gaps.conversation_id = sessions.conversation_id
        and gaps.event_seq > sessions.first_seq
        and gaps.after_ttl_gap
    group by sessions.session_id
),

ttl_expiry as (
    select
        sessions.session_id,
        case
            when sessions.terminal_at is not null then null
            when first_gap.expiring_activity_at is not null
                then {{ dbt.dateadd('millisecond', ttl_ms(), 'first_gap.expiring_activity_at') }}
            when {{ dbt.dateadd('millisecond', ttl_ms(), 'sessions.last_activity_at') }} <= watermark.watermark_at
                then {{ dbt.dateadd('millisecond', ttl_ms(), 'sessions.last_activity_at') }}
        end as expired_at
    from sessions
    cross join watermark
    left join first_gap on sessions.session_id = first_gap.session_id
),

final as (
    select
        sessions.session_id,
        sessions.conversation_id,
        sessions.session_ordinal,
        sessions.first_seq,
        sessions.started_at,
        sessions.last_activity_at,
        coalesce(sessions.terminal_at, ttl_expiry.expired_at) as ended_at,
        case
            when sessions.terminal_state is not null then sessions.terminal_state
            when ttl_expiry.expired_at is not null then 'expired'
            else 'open'
        end as final_state,
        ttl_expiry.expired_at is not null as expired_by_ttl,
        {{ consumed_build_seq(ref('int_events__sessionized')) }} as upstream_build_seq,
        {{ next_build_seq() }} as build_seq
    from sessions
    left join ttl_expiry on sessions.session_id = ttl_expiry.session_id
)

select * from final
