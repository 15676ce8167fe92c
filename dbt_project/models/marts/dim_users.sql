{#- One row per unified person: every identifier seen, when, and how many sessions (docs/contract.md §6.1.3). -#}

with users as (
    select * from {{ ref('int_users__mapped') }}
),

sessions as (
    select * from {{ ref('int_sessions__bounded') }}
),

identifiers as (
    select
        unified_user_id,
        {{ sorted_set('identifier_value', "identifier_kind = 'channel_user_id'") }} as channel_user_ids,
        {{ sorted_set('identifier_value', "identifier_kind = 'user_id'") }} as user_ids,
        {{ sorted_set('identifier_value', "identifier_kind = 'anonymous_id'") }} as anonymous_ids
    from users
    where unified_user_id is not null
    group by unified_user_id
),

seen as (
    select
        unified_user_id,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from users
    where unified_user_id is not null
    group by unified_user_id
),

session_counts as (
    select
        users.unified_user_id,
        count(*) as sessions
    from sessions
    inner join users
        on users.identifier_kind = 'conversation_id'
        and sessions.conversation_id = users.identifier_value
    group by users.unified_user_id
),

final as (
    select
        identifiers.unified_user_id,
        identifiers.channel_user_ids,
        identifiers.user_ids,
        identifiers.anonymous_ids,
        seen.first_seen_at,
        seen.last_seen_at,
        cast(coalesce(session_counts.sessions, 0) as {{ dbt.type_bigint() }}) as sessions
    from identifiers
    inner join seen on identifiers.unified_user_id = seen.unified_user_id
    left join session_counts on identifiers.unified_user_id = session_counts.unified_user_id
)

select * from final
