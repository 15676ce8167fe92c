{#-
  User mapping, kept apart from the facts as in Snowplow's packages: every
  identifier (conversations included) to its unified person. The person's id
  is the component's smallest hashed channel user id, else `u:` + its
  smallest user id, else `a:` + its smallest anonymous id (docs/decisions.md).

  Incremental: a run re-maps the components that hold rows
  `int_identity__components` rewrote since (a new link rewrites every node of
  the components it merges), and replaces their nodes' rows. Its own
  `build_seq` tells the facts that carry a person which conversations'
  person may have changed (`meta.people_from`, macros/incremental.sql).
-#}

with components as (
    select * from {{ ref('int_identity__components') }}
),

{% if is_incremental() %}
rebuilt as (
    select distinct component_id from components
    where build_seq > (select coalesce(max(upstream_build_seq), 0) from {{ this }})
),
{% endif %}

scoped as (
    select * from components
    {{ where_scoped('component_id', 'rebuilt') }}
),

people as (
    select
        component_id,
        coalesce(
            min(case when identifier_kind = 'channel_user_id' then identifier_value end),
            {{ dbt.concat(["'u:'", "min(case when identifier_kind = 'user_id' then identifier_value end)"]) }},
            {{ dbt.concat(["'a:'", "min(case when identifier_kind = 'anonymous_id' then identifier_value end)"]) }}
        ) as unified_user_id
    from scoped
    group by component_id
),

final as (
    select
        scoped.node_id,
        scoped.identifier_kind,
        scoped.identifier_value,
        people.unified_user_id,
        scoped.first_seen_at,
        scoped.last_seen_at,
        {{ consumed_build_seq(ref('int_identity__components')) }} as upstream_build_seq,
        {{ next_build_seq() }} as build_seq
    from scoped
    inner join people on scoped.component_id = people.component_id
)

select * from final
