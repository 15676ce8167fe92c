{#-
  Every session with its person and its resolution quality (docs/contract.md
  §6.2.1): whether the person came back within the recontact window, whether
  the conversation reopened, and what that makes of a resolution or a bot
  containment. Null until the session is mature (ended, and its window closed
  by the watermark). `fct_sessions` is this model's rows as published.

  Incremental, by whole conversations, though quality moves without new
  events in a conversation. A run rebuilds the conversations rebuilt upstream
  or whose person a new identity link changed (`meta.people_from`), every
  conversation of the people those belong to (a new or changed session of a
  person decides whether their earlier sessions were recontacts), the
  conversations with a session the watermark matured since the last run (its
  `watermark_at`), and all of them after `recontact_window_days` changed
  (each row keeps the window it was judged with, `recontact_window_ms`).
  The recontacts themselves are looked up among all the sessions.
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
        sessions.*,
        {{ plus_millis(recontact_window_ms(), 'sessions.ended_at') }} as window_ends_at,
        users.unified_user_id
    from sessions
    left join users on sessions.conversation_id = users.identifier_value
),

{% if is_incremental() %}
changed as (
    {{ rebuilt_conversations(ref('int_sessions__bounded')) }}
),

judged as (
    select
        max(watermark_at) as watermark_at,
        max(case when recontact_window_ms <> {{ recontact_window_ms() }} then 1 else 0 end) as window_changed
    from {{ this }}
),

changed_people as (
    select distinct windowed.unified_user_id
    from windowed
    inner join changed on windowed.conversation_id = changed.conversation_id
    where windowed.unified_user_id is not null
),

rebuilt as (
    select conversation_id from changed
    union
    select windowed.conversation_id
    from windowed
    inner join changed_people on windowed.unified_user_id = changed_people.unified_user_id
    union
    select windowed.conversation_id
    from windowed
    cross join watermark
    cross join judged
    where judged.window_changed = 1
        or (windowed.window_ends_at > judged.watermark_at and windowed.window_ends_at <= watermark.watermark_at)
),

judging as (
    select windowed.*
    from windowed
    where windowed.conversation_id in (select conversation_id from rebuilt)
),
{% else %}
judging as (
    select * from windowed
),
{% endif %}

recontacts as (
    select distinct ended.session_id
    from judging as ended
    inner join windowed as later
        on later.unified_user_id = ended.unified_user_id
        and later.started_at > ended.ended_at
        and later.started_at <= ended.window_ends_at
),

reopens as (
    select distinct ended.session_id
    from judging as ended
    inner join windowed as next_session
        on next_session.conversation_id = ended.conversation_id
        and next_session.session_ordinal = ended.session_ordinal + 1
        and next_session.started_at > ended.ended_at
        and next_session.started_at <= ended.window_ends_at
),

matured as (
    select
        judging.*,
        watermark.watermark_at as judged_at,
        judging.window_ends_at <= watermark.watermark_at as is_mature,
        recontacts.session_id is not null as came_back,
        reopens.session_id is not null as conversation_reopened
    from judging
    cross join watermark
    left join recontacts on judging.session_id = recontacts.session_id
    left join reopens on judging.session_id = reopens.session_id
),

final as (
    select
        session_id,
        conversation_id,
        unified_user_id,
        channel,
        department,
        query_nature,
        started_at,
        ended_at,
        final_state,
        escalated,
        bot_contained,
        queue_wait_s,
        first_queue_wait_s,
        agent_first_response_s,
        first_responder_agent_id,
        first_responder_team,
        time_to_resolution_s,
        handovers,
        webview_opened,
        funnel_completed,
        csat_score,
        session_ordinal,
        last_activity_at,
        returned_to_bot,
        transfer_ping_pongs,
        case when is_mature then came_back end as recontacted,
        case when is_mature and final_state = 'resolved' then conversation_reopened end as reopened,
        case when is_mature then final_state = 'resolved' and not came_back end as first_contact_resolved,
        case when is_mature then bot_contained and not came_back end as durably_contained,
        judged_at as watermark_at,
        cast({{ recontact_window_ms() }} as {{ dbt.type_bigint() }}) as recontact_window_ms,
        {{ consumed_build_seq(ref('int_sessions__bounded')) }} as upstream_build_seq,
        {{ consumed_people_build_seq() }} as people_build_seq,
        {{ next_build_seq() }} as build_seq
    from matured
)

select * from final
