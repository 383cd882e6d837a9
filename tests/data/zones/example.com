; example.com - test zone served by nsd in tests/unit/test_dns.c
$ORIGIN example.com.
$TTL 300
@	IN SOA	ns.example.com. hostmaster.example.com. (
		1 3600 600 86400 300 )
	IN NS	ns.example.com.
	IN MX	10 mail.example.com.
ns	IN A	127.0.0.1
mail	IN A	192.0.2.25
www	IN A	192.0.2.10
www	IN AAAA	2001:db8::10
two	IN A	192.0.2.1
two	IN A	192.0.2.2
; two strings that join into one SPF record
txt	IN TXT	"v=spf1 " "-all"
empty	IN TXT	""
; a name with only an A record: TXT and MX are NODATA
aonly	IN A	192.0.2.20
; one name per thread of the concurrency test
n0	IN A	192.0.2.100
n1	IN A	192.0.2.101
n2	IN A	192.0.2.102
n3	IN A	192.0.2.103
n4	IN A	192.0.2.104
n5	IN A	192.0.2.105
n6	IN A	192.0.2.106
n7	IN A	192.0.2.107
