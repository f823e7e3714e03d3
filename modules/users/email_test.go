package users

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lookAlikes are the pairs of issue 10, finding 2 (and a few of their kin): each second
// address looks like the first. Each must be refused (rejected names what the error says) or
// have the first's key (a 409 when both are registered).
var lookAlikes = []struct {
	name, first, second string
	rejected            string // "" when the second must have the first's key
}{
	{"zero-width space inside", "ada@example.com", "a\u200bda@example.com", "U+200B, an invisible format character"},
	{"zero-width space at the end of the local part", "ada@example.com", "ada\u200b@example.com", "U+200B"},
	{"zero-width space in the domain", "ada@example.com", "ada@exa\u200bmple.com", "U+200B"},
	{"zero-width joiner", "ada@example.com", "a\u200dda@example.com", "U+200D"},
	{"soft hyphen", "ada@example.com", "a\u00adda@example.com", "U+00AD"},
	{"right-to-left override", "ada@example.com", "\u202eada@example.com", "U+202E, an invisible format character"},
	{"left-to-right mark", "ada@example.com", "ada\u200e@example.com", "U+200E"},
	{"fullwidth letters", "ada@example.com", "ａｄａ@example.com", ""},
	{"fullwidth everything", "ada@example.com", "ａｄａ＠ｅｘａｍｐｌｅ．ｃｏｍ", ""},
	{"Kelvin sign", "kelvin@example.com", "\u212aelvin@example.com", ""},
	{"Kelvin sign against capital K", "Kelvin@example.com", "\u212aelvin@example.com", ""},
	{"dotless i", "admin@example.com", "adm\u0131n@example.com", ""},
	{"capital I with dot above", "admin@example.com", "adm\u0130n@example.com", ""},
	{"Cyrillic x among Latin letters", "xavier@example.com", "\u0445avier@example.com", "mixes Cyrillic (U+0445) and Latin (U+0061)"},
	{"Cyrillic a among Latin letters", "paypal@example.com", "p\u0430ypal@example.com", "mixes Latin (U+0070) and Cyrillic (U+0430)"},
	{"Greek omicron among Latin letters", "bob@example.com", "b\u03bfb@example.com", "mixes Latin (U+0062) and Greek (U+03BF)"},
	{"all-Cyrillic look-alike", "paypal@example.com", "\u0440\u0430\u0443\u0440\u0430\u04cf@example.com", ""},
	{"NFC and NFD e-acute", "jos\u00e9@example.com", "jose\u0301@example.com", ""},
	{"A and a with diaeresis", "\u00e4nne@example.com", "\u00c4nne@example.com", ""},
	{"sharp s", "strasse@example.com", "stra\u00dfe@example.com", ""},
	{"ASCII case", "ada@example.com", "ADA@EXAMPLE.COM", ""},
	{"Unicode domain and its punycode", "ada@b\u00fccher.example", "ada@xn--bcher-kva.example", ""},
	{"punycode in capitals", "ada@b\u00fccher.example", "ada@XN--BCHER-KVA.EXAMPLE", ""},
	{"Unicode domain in capitals", "ada@b\u00fccher.example", "ada@B\u00dcCHER.EXAMPLE", ""},
	{"NFD domain", "ada@b\u00fccher.example", "ada@bu\u0308cher.example", ""},
	{"Cyrillic a in a Latin domain label", "ada@paypal.com", "ada@p\u0430ypal.com", "domain label"},
	{"mathematical bold a", "ada@example.com", "\U0001d41ada@example.com", "U+1D41A, which is not allowed in the local part"},
	{"ligature fi", "file@example.com", "\ufb01le@example.com", "U+FB01"},
	{"trailing dot on the domain", "ada@example.com", "ada@example.com.", "ending with a dot"},
	{"quoted local part", "ada@example.com", `"ada"@example.com`, "quoted"},
}

func TestLookAlikeEmailsAreRefusedOrShareTheKey(t *testing.T) {
	for _, tc := range lookAlikes {
		t.Run(tc.name, func(t *testing.T) {
			firstKey, err := emailKey(tc.first)
			require.NoError(t, err, "first %q", tc.first)
			secondKey, err := emailKey(tc.second)
			if tc.rejected != "" {
				require.ErrorContains(t, err, tc.rejected, "second %q", tc.second)
				return
			}
			require.NoError(t, err, "second %q", tc.second)
			assert.Equal(t, firstKey, secondKey, "%q and %q must be the same address", tc.first, tc.second)
		})
	}
}

func TestEmailsStoredNormalised(t *testing.T) {
	cases := []struct{ in, stored, key string }{
		{"Ada.Lovelace+Tag@Example.COM", "Ada.Lovelace+Tag@example.com", "ada.lovelace+tag@example.com"},
		{"ａｄａ＠ｅｘａｍｐｌｅ．ｃｏｍ", "ada@example.com", "ada@example.com"},
		{"jose\u0301@example.com", "jos\u00e9@example.com", "jos\u00e9@example.com"},
		{"\u212aelvin@example.com", "Kelvin@example.com", "kelvin@example.com"},
		{"J\u00fcrgen@B\u00fccher.Example", "J\u00fcrgen@xn--bcher-kva.example", "j\u00fcrgen@xn--bcher-kva.example"},
		{"\u043f\u0451\u0442\u0440@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444", "\u043f\u0451\u0442\u0440@xn--e1afmkfd.xn--p1ai", "\u043f\u00eb\u0442p@xn--e1afmkfd.xn--p1ai"},
		{"\u5c71\u7530.taro@example.jp", "\u5c71\u7530.taro@example.jp", "\u5c71\u7530.taro@example.jp"},
		{"\u05e9\u05dc\u05d5\u05dd@example.com", "\u05e9\u05dc\u05d5\u05dd@example.com", "\u05e9\u05dc\u05d5\u05dd@example.com"},
	}
	for _, tc := range cases {
		email, key, err := canonicalEmail(tc.in)
		require.NoError(t, err, "%q", tc.in)
		assert.Equal(t, tc.stored, email, "stored form of %q", tc.in)
		assert.Equal(t, tc.key, key, "key of %q", tc.in)
	}
}

// Dots, +tags, digits and letters of one script that merely resemble each other stay
// different addresses: the key folds case and a few cross-script look-alikes, nothing else.
func TestEmailsThatStayDistinct(t *testing.T) {
	pairs := [][2]string{
		{"ada@example.com", "a.da@example.com"},
		{"ada@example.com", "ada+news@example.com"},
		{"ada@example.com", "ada@example.org"},
		{"ada@example.com", "ada@sub.example.com"},
		{"bob@example.com", "b0b@example.com"},
		{"alice@example.com", "aiice@example.com"},
		{"petr@example.com", "\u043f\u0435\u0442\u0440@example.com"},
		{"ada@example.com", "ada@\u0117xample.com"},
	}
	for _, p := range pairs {
		a, err := emailKey(p[0])
		require.NoError(t, err, "%q", p[0])
		b, err := emailKey(p[1])
		require.NoError(t, err, "%q", p[1])
		assert.NotEqual(t, a, b, "%q and %q are different addresses", p[0], p[1])
	}
}

func TestEmailsRejected(t *testing.T) {
	cases := []struct{ in, want string }{
		{"ada@exa\x00mple.com", "the control character U+0000 at character 8"},
		{"ada\t@example.com", "control character U+0009"},
		{"ada @example.com", "whitespace (U+0020) at character 4"},
		{"ada\u00a0@example.com", "whitespace (U+00A0)"},
		{"ada\u3000@example.com", "whitespace (U+3000)"},
		{"ada\ue000@example.com", "private-use character U+E000"},
		{"ada\u0378@example.com", "unassigned code point U+0378"},
		{"ada\xff@example.com", "not valid UTF-8"},
		{"ada", "exactly one @"},
		{"a@da@example.com", "exactly one @"},
		{"@example.com", "no local part"},
		{"ada@", "no domain"},
		{"ada@my_host.com", "invalid domain"},
		{"ada@-example.com", "invalid domain"},
		{"ada\u2665@example.com", "U+2665, which is not allowed"},
		{"abc\u05e9\u05dc\u05d5\u05dd@example.com", "right-to-left"},
	}
	for _, tc := range cases {
		_, err := normalizeEmail(tc.in)
		assert.ErrorContains(t, err, tc.want, "%q", tc.in)
	}
}
