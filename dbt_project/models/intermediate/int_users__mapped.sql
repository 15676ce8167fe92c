{#-
  User mapping, kept apart from the facts as in Snowplow's packages: each
  conversation to one unified person. For now the person is the conversation's
  first (hashed) channel user id; the identity graph replaces this model.
-#}

with events as (
    select * from {{ ref('int_events__sessionized') }}
),

ranked as (
    select
        conversation_id,
        channel_user_id,
        row_number() over (partition by conversation_id order by event_seq) as position
    from events
    where channel_user_id is not null
),

final as (
    select
        conversation_id,
        channel_user_id as unified_user_id
    from ranked
    where position = 1
)

select * from final
