// Calico's label-selector grammar (libcalico-go/lib/selector/parser), as an
// ANTLR4 parser over SelectorLexer's tokens. Precedence, highest first:
// '!' (binds to one primary), '&&', '||'. An empty selector means all().
parser grammar Selector;

options { tokenVocab = SelectorLexer; }

selector   : orExpr? EOF ;
orExpr     : andExpr (OR andExpr)* ;
andExpr    : unary (AND unary)* ;
unary      : NOT* primary ;

primary
  : HAS                        # hasCall
  | ALL                        # allCall
  | GLOBAL                     # globalCall
  | LPAREN orExpr RPAREN       # group
  | LABEL comparison           # labelComparison
  ;

comparison
  : op=(EQ | NE | CONTAINS | STARTS_WITH | ENDS_WITH) STRING   # stringComparison
  | op=(IN | NOT_IN) LBRACE stringSet? RBRACE                  # setComparison
  ;

stringSet : STRING (COMMA STRING)* COMMA? ;
