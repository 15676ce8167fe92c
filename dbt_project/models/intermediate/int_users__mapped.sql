{#-
  User mapping, kept apart from the facts as in Snowplow's packages: each
  conversation to one unified person. For now the person is the conversation's
  first (hashed) channel user id; the identity graph replaces this model.
-#}

with events as (
    select * from {{ ref('int_events__sessionized') }}
),

first_channel_user as (
    {{ first_by('events', 'conversation_id', 'event_seq', 'channel_user_id') }}
),

final as (
    select
        conversation_id,
        channel_user_id as unified_user_id
    from first_channel_user
)

select * from final
