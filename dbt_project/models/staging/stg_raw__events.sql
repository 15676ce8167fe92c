with source as (
    select * from {{ source('raw', 'events') }}
),

final as (
    select
        event_id,
        type as event_type,
        {{ to_utc('occurred_at') }} as occurred_at,
        {{ to_utc('received_at') }} as received_at,
        {{ to_utc('sent_at') }} as sent_at,
        coalesce({{ to_utc('loaded_at') }}, {{ to_utc('received_at') }}) as loaded_at,
        conversation_id,
        channel,
        {{ json_text('actor', 'kind') }} as actor_kind,
        {{ json_text('actor', 'id') }} as actor_id,
        {{ json_text('identity', 'channel_user_id') }} as channel_user_id,
        {{ json_text('identity', 'anonymous_id') }} as anonymous_id,
        {{ json_text('identity', 'user_id') }} as user_id,
        {{ json_text('attributes', 'department') }} as department,
        {{ json_text('attributes', 'query_nature') }} as query_nature,
        {{ json_text('properties', 'message_id') }} as message_id,
        {{ json_text('properties', 'to_state') }} as to_state,
        {{ json_text('properties', 'agent_id') }} as agent_id,
        {{ json_text('properties', 'team') }} as team,
        {{ json_text('properties', 'from_team') }} as from_team,
        {{ json_text('properties', 'to_team') }} as to_team,
        cast({{ json_text('properties', 'score') }} as integer) as csat_score,
        {{ json_text('properties', 'funnel') }} as funnel,
        {{ json_text('properties', 'step') }} as step,
        cast({{ json_text('properties', 'step_index') }} as integer) as step_index,
        {{ json_text('properties', 'reason') }} as reason,
        type in ({{ quoted(webview_event_types()) }}) as is_webview,
        properties,
        attributes,
        extras
    from source
)

select * from final
