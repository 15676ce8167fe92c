{#-
  User mapping, kept apart from the facts as in Snowplow's packages: every
  identifier (conversations included) to its unified person. The person's id
  is the component's smallest hashed channel user id, else `u:` + its
  smallest user id, else `a:` + its smallest anonymous id (docs/decisions.md).
-#}

with components as (
    select * from {{ ref('int_identity__components') }}
),

people as (
    select
        component_id,
        coalesce(
            min(case when identifier_kind = 'channel_user_id' then identifier_value end),
            {{ dbt.concat(["'u:'", "min(case when identifier_kind = 'user_id' then identifier_value end)"]) }},
            {{ dbt.concat(["'a:'", "min(case when identifier_kind = 'anonymous_id' then identifier_value end)"]) }}
        ) as unified_user_id
    from components
    group by component_id
),

final as (
    select
        components.node_id,
        components.identifier_kind,
        components.identifier_value,
        people.unified_user_id,
        components.first_seen_at,
        components.last_seen_at
    from components
    inner join people on components.component_id = people.component_id
)

select * from final
