{#-
  Sessionization (docs/contract.md §4). A session of a conversation ends at `resolved` or
  `expired` (explicit, or TTL: no activity for `ttl_hours`); after that the
  next message.received or conversation.state_changed (a "starter") opens the
  next session, and any other event still belongs to the session that ended.
  A state change into `resolved` or `expired` is no starter (docs/decisions.md):
  with no session open it names the state the conversation is already in
  (docs/contract.md §3.3), such as a second system closing it again or a desk closing a
  conversation the TTL already expired, so it stays with the ended session
  instead of opening an empty one that would count as bot-contained.

  Without recursion: cut the conversation into blocks that each begin with a
  starter. A block "closes" its session when it holds a terminal state
  change, or when a TTL gap happens before one of its non-starters. A starter
  opens a new session when the previous block closed or a TTL gap precedes it.

  Incremental: a conversation's sessions depend on all of its events, so a
  run re-sessionizes, from its whole history, every conversation that got an
  event in a load this model has not seen, and replaces its rows. That is the
  lookback for late data: unbounded in time, scoped to the touched threads.
  The rebuilt rows carry a new `build_seq` for the session-level models.
  Each row keeps the TTL it was cut with (`ttl_ms`): after `ttl_hours`
  changes, the next incremental run re-sessionizes every conversation cut
  with another one, so nobody has to remember a full refresh.
-#}

with events as (
    select * from {{ ref('stg_raw__events') }}
    where conversation_id is not null
    {% if is_incremental() %}
        and {% call conversations_in('conversation_id') %}
            select conversation_id
            from {{ ref('stg_raw__events') }}
            where conversation_id is not null
                and {{ is_new_load() }}
            union
            select conversation_id
            from {{ this }}
            where ttl_ms <> {{ ttl_ms() }}
        {% endcall %}
    {% endif %}
),

ordered as (
    select
        *,
        -- bigint everywhere (Spark's row_number is an int).
        cast(row_number() over (
            partition by conversation_id
            order by occurred_at, received_at, event_id
        ) as {{ dbt.type_bigint() }}) as event_seq,
        (event_type = 'conversation.state_changed' and to_state in ({{ quoted(terminal_states()) }})) as is_terminal_event,
        event_type <> 'conversation.expired' as is_activity
    from events
),

with_prev_activity as (
    select
        *,
        (event_type = 'message.received'
            or (event_type = 'conversation.state_changed' and not is_terminal_event)) as is_starter,
        max(case when is_activity then occurred_at end) over (
            partition by conversation_id
            order by event_seq
            rows between unbounded preceding and 1 preceding
        ) as prev_activity_at
    from ordered
),

gaps as (
    select
        *,
        coalesce(
            occurred_at >= {{ plus_millis(ttl_ms(), 'prev_activity_at') }},
            false
        ) as after_ttl_gap,
        sum(case when is_starter then 1 else 0 end) over (
            partition by conversation_id
            order by event_seq
            rows between unbounded preceding and current row
        ) as starter_block
    from with_prev_activity
),

block_closes as (
    select
        conversation_id,
        starter_block,
        max(
            case when is_terminal_event or (after_ttl_gap and not is_starter) then 1 else 0 end
        ) as closes
    from gaps
    group by conversation_id, starter_block
),

flagged as (
    select
        gaps.*,
        case
            when gaps.event_seq = 1 then 1
            when gaps.is_starter and (gaps.after_ttl_gap or previous_block.closes = 1) then 1
            else 0
        end as starts_session
    from gaps
    left join block_closes as previous_block
        on gaps.conversation_id = previous_block.conversation_id
        and gaps.starter_block = previous_block.starter_block + 1
),

numbered as (
    select
        *,
        cast(sum(starts_session) over (
            partition by conversation_id
            order by event_seq
            rows between unbounded preceding and current row
        ) as {{ dbt.type_bigint() }}) as session_ordinal
    from flagged
),

final as (
    select
        {{ dbt.concat(['conversation_id', "':'", 'cast(session_ordinal as ' ~ type_text() ~ ')']) }} as session_id,
        conversation_id,
        session_ordinal,
        event_seq,
        event_id,
        event_type,
        occurred_at,
        received_at,
        loaded_at,
        channel,
        actor_kind,
        actor_id,
        channel_user_id,
        anonymous_id,
        user_id,
        department,
        query_nature,
        to_state,
        agent_id,
        team,
        from_team,
        to_team,
        csat_score,
        funnel,
        step,
        step_index,
        reason,
        is_webview,
        is_starter,
        is_terminal_event,
        is_activity,
        prev_activity_at,
        after_ttl_gap,
        cast({{ ttl_ms() }} as {{ dbt.type_bigint() }}) as ttl_ms,
        {{ next_build_seq() }} as build_seq
    from numbered
)

{{ bucketed('final') }}
