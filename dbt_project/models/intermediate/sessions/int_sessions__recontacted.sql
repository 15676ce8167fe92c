{#-
  Resolution quality per session (docs/contract.md §6.2.1): whether the
  person came back within the recontact window, whether the conversation
  reopened, and what that makes of a resolution or a bot containment.
  Null until the session is mature (ended, and its window closed by the
  watermark). Both inputs move without new events in a conversation: the
  watermark matures old sessions, and a new identity link can merge two
  people. So this model is rebuilt whole every run, as `fct_sessions` is: a
  join of the sessions by person, no scan of the events.
-#}

with sessions as (
    select * from {{ ref('int_sessions__measured') }}
),

users as (
    select * from {{ ref('int_users__mapped') }}
    where identifier_kind = 'conversation_id'
),

watermark as (
    select * from {{ ref('int_events__watermark') }}
),

windowed as (
    select
        sessions.session_id,
        sessions.conversation_id,
        sessions.session_ordinal,
        sessions.started_at,
        sessions.ended_at,
        {{ plus_millis(recontact_window_ms(), 'sessions.ended_at') }} as window_ends_at,
        sessions.final_state,
        sessions.bot_contained,
        users.unified_user_id
    from sessions
    left join users on sessions.conversation_id = users.identifier_value
),

recontacts as (
    select distinct ended.session_id
    from windowed as ended
    inner join windowed as later
        on later.unified_user_id = ended.unified_user_id
        and later.started_at > ended.ended_at
        and later.started_at <= ended.window_ends_at
),

reopens as (
    select distinct ended.session_id
    from windowed as ended
    inner join windowed as next_session
        on next_session.conversation_id = ended.conversation_id
        and next_session.session_ordinal = ended.session_ordinal + 1
        and next_session.started_at > ended.ended_at
        and next_session.started_at <= ended.window_ends_at
),

matured as (
    select
        windowed.*,
        windowed.window_ends_at <= watermark.watermark_at as is_mature,
        recontacts.session_id is not null as came_back,
        reopens.session_id is not null as conversation_reopened
    from windowed
    cross join watermark
    left join recontacts on windowed.session_id = recontacts.session_id
    left join reopens on windowed.session_id = reopens.session_id
),

final as (
    select
        session_id,
        case when is_mature then came_back end as recontacted,
        case when is_mature and final_state = 'resolved' then conversation_reopened end as reopened,
        case when is_mature then final_state = 'resolved' and not came_back end as first_contact_resolved,
        case when is_mature then bot_contained and not came_back end as durably_contained
    from matured
)

select * from final
