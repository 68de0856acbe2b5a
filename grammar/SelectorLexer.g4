// Calico's label-selector tokens (libcalico-go/lib/selector/tokenizer), as an
// ANTLR4 lexer. The language is context sensitive: comparison keywords exist
// only directly after a label, so a label switches to the AFTER_LABEL mode.
// Only space and tab are whitespace. Catch-all tokens (INVALID, BAD_OPERATOR,
// UNTERMINATED_STRING) make the lexer total, so every error is reported by the
// parser with a column and what was expected.
lexer grammar SelectorLexer;

WS : [ \t]+ -> skip ;

// Functions are single tokens: no space is allowed between the name and '('.
HAS    : 'has(' [ \t]* ID_CHAR+ [ \t]* ')' ;
ALL    : 'all(' [ \t]* ')' ;
GLOBAL : 'global(' [ \t]* ')' ;

LABEL : ID_CHAR+ -> pushMode(AFTER_LABEL) ;

// No escapes: a literal ends at the next quote of the same kind.
STRING : '"' ~'"'* '"' | '\'' ~'\''* '\'' ;
UNTERMINATED_STRING : '"' ~'"'* | '\'' ~'\''* ;

LPAREN : '(' ;
RPAREN : ')' ;
LBRACE : '{' ;
RBRACE : '}' ;
COMMA  : ',' ;
EQ     : '==' ;
NE     : '!=' ;
NOT    : '!' ;
AND    : '&&' ;
OR     : '||' ;
INVALID : . ;

fragment ID_CHAR : [A-Za-z0-9_./\-] ;

mode AFTER_LABEL;

AL_WS : [ \t]+ -> skip ;
AL_EQ : '==' -> type(EQ), popMode ;
AL_NE : '!=' -> type(NE), popMode ;
CONTAINS    : 'contains' -> popMode ;
STARTS_WITH : 'starts' [ \t]* 'with' -> popMode ;
ENDS_WITH   : 'ends' [ \t]* 'with' -> popMode ;
IN          : 'in' -> popMode ;
NOT_IN      : 'not' [ \t]* 'in' -> popMode ;
// A keyword glued to more identifier characters ("containsx", "starts withx")
// is longer than the keyword, so maximal munch picks this and the parser
// reports it; anything else after a label is not an operator either.
BAD_OPERATOR
  : ( AL_ID_CHAR+
    | 'starts' [ \t]* 'with' AL_ID_CHAR+
    | 'ends' [ \t]* 'with' AL_ID_CHAR+
    | 'not' [ \t]* 'in' AL_ID_CHAR+
    | .
    ) -> popMode ;

fragment AL_ID_CHAR : [A-Za-z0-9_./\-] ;
