//! Result column names as a SQL user expects them: an unnamed expression of the outer SELECT
//! is named by its text (`count(*)`, `sum(montant)`), as DuckDB and PostgreSQL's clients show
//! it, where Polars would name it `len` or after its first column (`montant`).

use sqlparser::ast::{Expr, Ident, OrderByKind, SelectItem, SetExpr, Statement};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserOptions};

/// `sql` with each unnamed, computed column of its outer SELECT aliased by its own text.
/// Columns already named (a bare or qualified column, an `AS`) keep their name; SQL that does
/// not parse, or anything but one plain SELECT, is returned as it came (Polars reports it).
pub fn name_expressions(sql: &str) -> String {
    let parsed = Parser::new(&GenericDialect)
        .with_options(ParserOptions {
            trailing_commas: true,
            ..Default::default()
        })
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements());
    let Ok(mut statements) = parsed else {
        return sql.to_string();
    };
    let [Statement::Query(query)] = statements.as_mut_slice() else {
        return sql.to_string();
    };
    let SetExpr::Select(select) = query.body.as_mut() else {
        return sql.to_string();
    };
    let mut taken: Vec<String> = select
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
            SelectItem::UnnamedExpr(Expr::Identifier(i)) => Some(i.value.clone()),
            SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => {
                parts.last().map(|i| i.value.clone())
            }
            _ => None,
        })
        .collect();
    let mut named: Vec<(Expr, Ident)> = Vec::new();
    for item in &mut select.projection {
        let SelectItem::UnnamedExpr(expr) = item else {
            continue;
        };
        if matches!(expr, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
            continue;
        }
        let name = expr.to_string();
        if taken.contains(&name) {
            continue;
        }
        taken.push(name.clone());
        let alias = Ident::with_quote('"', name);
        named.push((expr.clone(), alias.clone()));
        *item = SelectItem::ExprWithAlias {
            expr: expr.clone(),
            alias,
        };
    }
    // Polars matches an ORDER BY expression to an unnamed SELECT item, not to a named one:
    // order by the new name instead.
    if let Some(order) = query.order_by.as_mut() {
        if let OrderByKind::Expressions(exprs) = &mut order.kind {
            for o in exprs {
                if let Some((_, alias)) = named.iter().find(|(e, _)| *e == o.expr) {
                    o.expr = Expr::Identifier(alias.clone());
                }
            }
        }
    }
    if !named.is_empty() {
        statements[0].to_string()
    } else {
        sql.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computed_columns_are_named_by_their_text() {
        assert_eq!(
            name_expressions("select count(*), sum(montant) from v"),
            r#"SELECT count(*) AS "count(*)", sum(montant) AS "sum(montant)" FROM v"#
        );
    }

    #[test]
    fn named_columns_and_other_statements_are_left_alone() {
        for sql in [
            "select pays, v.segment, count(*) as n from v group by pays, v.segment",
            "select a from x union all select b from y",
            "not sql at all",
        ] {
            assert_eq!(name_expressions(sql), sql);
        }
    }

    #[test]
    fn order_by_a_named_expression_orders_by_its_name() {
        assert_eq!(
            name_expressions("select pays, count(*) from v group by pays order by count(*) desc"),
            r#"SELECT pays, count(*) AS "count(*)" FROM v GROUP BY pays ORDER BY "count(*)" DESC"#
        );
    }

    #[test]
    fn a_name_is_given_once() {
        assert_eq!(
            name_expressions("select count(*), count(*) from v"),
            r#"SELECT count(*) AS "count(*)", count(*) FROM v"#
        );
    }
}
