// Calico's label-selector grammar (libcalico-go/lib/selector/parser), as an
// ANTLR4 parser over SelectorLexer's tokens. Precedence, highest first:
// '!' (binds to one primary), '&&', '||'. An empty selector means all().
//
// The actions hand each construct to a SelectorBuilder (src/selector_builder.h)
// as soon as it is recognised, so Rampart's AST is built during the parse and
// the parser needs no parse tree. They are calls only; the grammar's shape,
// and with it every expected-token set in the error messages, is that of the
// rules alone.
parser grammar Selector;

options { tokenVocab = SelectorLexer; }

@parser::header { #include "selector_builder.h" }
@parser::members { rampart::selector::SelectorBuilder* builder = nullptr; }

selector   : orExpr? EOF ;
orExpr     locals [std::size_t operands = 1]
           : andExpr (OR andExpr {$operands++;})* {builder->combine(rampart::selector::Op::kOr, $operands);} ;
andExpr    locals [std::size_t operands = 1]
           : unary (AND unary {$operands++;})* {builder->combine(rampart::selector::Op::kAnd, $operands);} ;
unary      locals [std::size_t nots = 0]
           : (NOT {$nots++;})* primary {builder->negate($nots);} ;

primary
  : HAS                          {builder->has($HAS);}
  | ALL                          {builder->all();}
  | GLOBAL                       {builder->global();}
  | LPAREN orExpr RPAREN
  | LABEL {builder->label($LABEL);} comparison
  ;

comparison
  : op=(EQ | NE | CONTAINS | STARTS_WITH | ENDS_WITH) STRING   {builder->compare($op, $STRING);}
  | op=(IN | NOT_IN) LBRACE stringSet? RBRACE                  {builder->compare_set($op);}
  ;

stringSet : s=STRING {builder->member($s);} (COMMA s=STRING {builder->member($s);})* COMMA? ;
