­.¼ºe­
»÷*¸èXŠ“k¥†kÔ.j¹uS†>†§`ˆSgÇvFS7˜,Ú·5à_tgUŠxh²¢X’÷3Î-w¹GliªU‡UjY
˜T´KŠo-@¹T®
¼ö
¸øHŠ’[¤u[.)¹uR‡?†¸`™SxØ†FS8ˆ.£ºe®
»÷¸èYŠ“k¥†kU.Ì¹vS—O–¸p™dxØ‡Vd8/»e­
»ç*¸èXŠ“j¥vkl.©¹vS—O†¸`™dxØ‡Vc8Ê.Ùºe­
»ç*¸èXŠ“k¥†kB.­¹vS—O–¸p™dxØ‡Vc8È.Ñºe­
»ç*¸èXŠ“k¥†k1.m¹uS‡O†¸`™dxØ†Fc8å.¸ºe	»ç*¸èXŠ“j•vjÖ-¹uR‡?†¸`™SxØ†FS8­.¼ºe­
»÷*¸èXŠ“k¥†kÔ.k¹uS†>†§`ˆSgÇvFS7.¥¹T	»ö
¸èHz’Z”u[É-Ø¸uB‡?†·`™Sh×†FS'p-@¹T®
¼ö
¸øHŠ’[¤u[.)¹uR‡?†¸`™SxØ†FS8ˆ.£ºe®
»÷¸èYŠ“k¥†kT.Ë¹vS—O–¸p©dxØ‡Vd8Ò-ø¹e®»ø+ÈùX‹“{•†k.õ¹†d‡O—¸pštxÙ‡Wd8Ó+&·ÖõÊ
™CuÇU‡zHšñæ%—,¶µR%g·*xD8l—µ÷(TÈ.Ñºe­
»ç*¸èXŠ“k¥†k2.m¹uS‡O†¸`™dxØ†Fc8å.¹ºe	»ç*¸èXŠ“j•vjÖ-¹uR‡?†¸`™SxØ†FS8­.¼ºe­
»÷*¸èXŠ“k¥†kÔ.k¹uS†>†§`ˆSgÇvFS7.¦¹T	»ö
¸èHz’Z”u[É-Ø¸uB‡?†·`™Sh×†FS'o-?¹T®
¼ö
¸øHŠ’[¤u[.(¹uR‡?†¸`™SxØ†FS8‡.£ºe®
»÷¸èYŠ“k¥†kU.Ì¹vS—O–¸p©dxØ‡Vd8/»e­
»ç*¸èXŠ“j¥vkl.ª¹vS—O†¸`™dxØ‡Vc8Ê.Ùºe­
»ç*¸èXŠ“k¥†kB.­¹vS—O–¸p™dxØ‡Vc8È.Ñºe­
»ç*¸èXŠ“k¥†k2.m¹uS‡O†¸`™dxØ†Fc8å.¹ºe	»ç*¸èXŠ“j•vjÖ-¹uR‡?†¸`™SxØ†FS8­.¼ºe­
»÷*¸èXŠ“k¥†kÔ.j¹uS†>†§`ˆSgÇvFS7.¦¹T	»ö
¸èHz’Z”u[É-Ø¸uB‡?†·`™Sh×†FS'o-?¹T®
¼ö
¸øHŠ’[¤u[.)¹uR‡?†¸`™SxØ†FS8‡.£ºe®
¼÷¸èYŠ“k¥†kV.Ì¹vS—O–¸p©dxØ‡Vd8/»e­
»ç*¸èXŠ“j¥vkk.©¹vS—O†¸`™dxØ‡Vc8Ê.Ùºe­
»ç*¸èXŠ“k¥†kB.­¹vS—O–¸p™dxØ‡Vc8È.Ñºe­
»ç*¸èXŠ“k¥†k2.m¹uS‡O†¸`™dxØ†Fc8ä.¸ºe	»ç¸èXŠ“j•vjÕ-¹uR‡?†¸`™SxØ†FS8