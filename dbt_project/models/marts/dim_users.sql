{#-
  One row per unified person: every identifier seen, when, and how many sessions
  (docs/contract.md §6.1.3).

  Incremental by person: a run rebuilds the people that hold mapping rows
  int_users__mapped rewrote since (a new identifier, a new sighting, a merge)
  and the people of the conversations int_sessions__bounded rebuilt (their
  session count), each from all of its identifiers and sessions.
  `replace_people` (macros/incremental.sql) also deletes the people a merge
  made disappear.
-#}

with users as (
    select * from {{ ref('int_users__mapped') }}
    where unified_user_id is not null
),

sessions as (
    select * from {{ ref('int_sessions__bounded') }}
),

{% if is_incremental() %}
changed_people as (
    select unified_user_id
    from users
    where build_seq > (select coalesce(max(people_build_seq), 0) from {{ this }})
    union
    select users.unified_user_id
    from users
    inner join ({{ rebuilt_conversations(ref('int_sessions__bounded')) }}) as rebuilt
        on users.identifier_kind = 'conversation_id'
        and users.identifier_value = rebuilt.conversation_id
),
{% endif %}

people as (
    select * from users
    {{ where_scoped('unified_user_id', 'changed_people') }}
),

identifiers as (
    select
        unified_user_id,
        {{ sorted_set('identifier_value', "identifier_kind = 'channel_user_id'") }} as channel_user_ids,
        {{ sorted_set('identifier_value', "identifier_kind = 'user_id'") }} as user_ids,
        {{ sorted_set('identifier_value', "identifier_kind = 'anonymous_id'") }} as anonymous_ids,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from people
    group by unified_user_id
),

session_counts as (
    select
        people.unified_user_id,
        count(*) as sessions
    from sessions
    inner join people
        on people.identifier_kind = 'conversation_id'
        and sessions.conversation_id = people.identifier_value
    group by people.unified_user_id
),

final as (
    select
        -- Text cast to the contract's `varchar`, as in fct_sessions.
        cast(identifiers.unified_user_id as {{ type_text() }}) as unified_user_id,
        identifiers.channel_user_ids,
        identifiers.user_ids,
        identifiers.anonymous_ids,
        identifiers.first_seen_at,
        identifiers.last_seen_at,
        cast(coalesce(session_counts.sessions, 0) as {{ dbt.type_bigint() }}) as sessions,
        {{ consumed_build_seq(ref('int_sessions__bounded')) }} as upstream_build_seq,
        {{ consumed_people_build_seq() }} as people_build_seq
    from identifiers
    left join session_counts on identifiers.unified_user_id = session_counts.unified_user_id
)

select * from final
