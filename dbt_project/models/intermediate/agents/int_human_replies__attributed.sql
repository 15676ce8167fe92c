{#-
  Every human `message.sent` in a session, credited to its sender with the
  team of the sender's latest assignment in that session at or before the
  reply (`unassigned` when there is none): docs/contract.md §6.1.5 credits response times to
  the sender, and the agent mart is keyed by team.
-#}

with events as (
    select * from {{ ref('int_events__sessionized') }}
    {{ where_rebuilt(ref('int_sessions__bounded')) }}
),

replies as (
    select conversation_id, session_id, event_seq, occurred_at, actor_id as agent_id
    from events
    where event_type = 'message.sent' and actor_kind = 'human'
),

assignments as (
    select session_id, event_seq, agent_id, team
    from events
    where event_type = 'agent.assigned'
),

earlier_assignments as (
    select replies.session_id, replies.event_seq, assignments.event_seq as assigned_seq, assignments.team
    from replies
    inner join assignments
        on replies.session_id = assignments.session_id
        and replies.agent_id = assignments.agent_id
        and assignments.event_seq < replies.event_seq
),

sender_team as (
    {{ first_by('earlier_assignments', ['session_id', 'event_seq'], 'assigned_seq desc', 'team', 'true') }}
),

final as (
    select
        replies.conversation_id,
        replies.session_id,
        replies.event_seq,
        replies.occurred_at as replied_at,
        replies.agent_id,
        coalesce(sender_team.team, {{ unassigned_team() }}) as team,
        {{ consumed_build_seq(ref('int_sessions__bounded')) }} as upstream_build_seq
    from replies
    left join sender_team
        on replies.session_id = sender_team.session_id
        and replies.event_seq = sender_team.event_seq
)

{{ bucketed('final') }}
