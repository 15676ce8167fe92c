{#- Schemas are the layer names (`staging`, `marts`, …) exactly, as the mart contract requires. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name | trim if custom_schema_name else target.schema }}
{%- endmacro %}
